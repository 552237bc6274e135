//! Where the tests' inputs live: the package root, `captures/` under it and the shared data in
//! `../shared` beside it, all as absolute paths from `CARGO_MANIFEST_DIR`, so a test finds its
//! files whatever the working directory. Also a temporary directory that removes itself.

use std::path::{Path, PathBuf};

/// The package root (`CARGO_MANIFEST_DIR`).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `captures/` under the package root.
pub fn captures_dir() -> PathBuf {
    root().join("captures")
}

/// A path under `captures/`, e.g. `captures("netns/normal-openssl.client.pcap")`.
pub fn captures(rel: &str) -> PathBuf {
    captures_dir().join(rel)
}

/// A path under `../shared`, the data shared with the other tools, e.g. `shared("corpus")`.
pub fn shared(rel: &str) -> PathBuf {
    root().join("..").join("shared").join(rel)
}

/// A fresh directory under the system temporary directory, named after the test process and
/// `tag`, removed (with what it holds) when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tlsmortem-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
