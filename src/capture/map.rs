//! capture::map: the crate's only unsafe code, kept in one small place. Takes an open file, or a
//! buffer and an offset in it; gives a read-only memory map of the file, or a hint to the CPU
//! to start loading the bytes at that offset.
//!
//! Guarantees: the map is read-only, and the hint has no visible effect (it never faults and
//! changes no result). Deliberately not done: anything else that needs `unsafe`; every other
//! file of the crate stays under `#![deny(unsafe_code)]` without exceptions.

#[allow(unsafe_code)] // memmap2 has no safe constructor; with `prefetch`, the only unsafe in the crate.
pub(super) fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and lives no longer than this read. If another process
    // truncates or rewrites the file while we read it, we may see changed bytes or take SIGBUS;
    // the parser tolerates any bytes, and the signal risk is the one ripgrep and every
    // mmap-based reader accept for read-only analysis of files the user points us at.
    unsafe { memmap2::Mmap::map(file) }
}

/// Asks the CPU to start loading the cache line holding `buf[at]`, if there is one. Walking a
/// capture is a chain of dependent loads (each record header says where the next one is),
/// and on a large file nearly every one misses the cache; hinting the next header while the
/// current frame is analysed overlaps the two. A hint only: it never faults, reads nothing
/// into the program and changes no result.
#[inline]
pub(super) fn prefetch(buf: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = buf.get(at) {
        // SAFETY: PREFETCHT0 has no architectural effect (no fault, no visible state); the
        // address is in bounds of `buf` anyway. SSE is part of the x86_64 baseline.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(b).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (buf, at);
}
