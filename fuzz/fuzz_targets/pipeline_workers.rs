//! The README's promise that the number of workers never changes the output: a capture held in
//! memory, cut into small chunks, analysed by one worker and by two (each walking chunks from a
//! guessed start and owning half the flows) must give the same JSON lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Chunks of 64 bytes to 16 KiB, chosen by the last byte, so that records and blocks
    // straddle chunk boundaries in every way.
    let chunk = 64 << (data.last().copied().unwrap_or(0) % 9);
    let one = tlsmortem_fuzz::analyze_and_report(data, 1, chunk);
    let two = tlsmortem_fuzz::analyze_and_report(data, 2, chunk);
    assert_eq!(
        one.is_some(),
        two.is_some(),
        "one worker and two disagree on success"
    );
    if let (Some(one), Some(two)) = (one, two) {
        assert_eq!(
            one.len(),
            two.len(),
            "one worker and two give other numbers of records"
        );
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b),
                "one worker and two give other records"
            );
        }
    }
});
