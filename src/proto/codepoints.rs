//! codepoints: the names of TLS code points that the record and the report print: protocol
//! versions and alert descriptions. Numbers stay numbers everywhere else; an unknown one has
//! no name rather than a wrong one.

/// A protocol version's name ("TLS 1.2"), "unknown" for a number no version uses.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSL 2.0",
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        v if v >> 8 == 0x7f => "TLS 1.3 (draft)",
        // RFC 6347 §4.1 and RFC 9147 §5.3: DTLS counts down from 0xfeff (1's complement).
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        // OpenSSL's DTLS before RFC 4347 (DTLS1_BAD_VER).
        0x0100 => "DTLS 1.0 (pre-RFC)",
        _ => "unknown",
    }
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert descriptions.
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// RFC 8446 §4 / RFC 5246 §7.4 handshake message types, named as the RFCs write them.
pub fn handshake_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        254 => "MessageHash",
        _ => return None,
    })
}

#[cfg(test)]
mod version_tests {
    use super::version_name;

    #[test]
    fn dtls_versions_are_named_as_their_rfcs_number_them() {
        assert_eq!(version_name(0xfeff), "DTLS 1.0");
        assert_eq!(version_name(0xfefd), "DTLS 1.2");
        assert_eq!(version_name(0xfefc), "DTLS 1.3");
        assert_eq!(version_name(0xfefe), "unknown");
        assert_eq!(version_name(0x0303), "TLS 1.2");
    }
}
