//! Fuzz target: `kdeck::fuzzing::prometheus_answer` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::prometheus_answer(data);
});
