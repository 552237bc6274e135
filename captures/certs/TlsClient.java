// One-shot Java (JSSE) TLS client for captures/certs/make.sh; run as `java TlsClient.java ...`.
//
// Usage: java TlsClient.java PORT SERVER_NAME CAFILE [PROTOCOL]
//
// Connects to 127.0.0.1:PORT with SNI SERVER_NAME, trusts only the certificates in CAFILE,
// checks the host name (endpoint identification "HTTPS"), PROTOCOL is TLSv1.3 (default) or
// TLSv1.2. Prints "ok" or "rejected: <reason>" and exits 0 either way. Used because JSSE, unlike
// OpenSSL, encrypts a TLS 1.3 client's alert with the handshake keys.
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String name = args[1];
        String protocol = args.length > 3 ? args[3] : "TLSv1.3";
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        int i = 0;
        try (FileInputStream in = new FileInputStream(args[2])) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ks.setCertificateEntry("ca" + (i++), c);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance(protocol);
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(name)));
            p.setEndpointIdentificationAlgorithm("HTTPS");
            p.setProtocols(new String[] {protocol});
            s.setSSLParameters(p);
            try {
                s.startHandshake();
            } catch (Exception e) {
                System.out.println("rejected: " + e);
                return;
            }
            System.out.println("ok " + s.getSession().getProtocol());
            OutputStream out = s.getOutputStream();
            out.write(("GET / HTTP/1.0\r\nHost: " + name + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            try {
                while (in.read(buf) > 0) { }
            } catch (Exception e) { }
        }
    }
}
