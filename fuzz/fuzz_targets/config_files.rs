//! Fuzz target: `kdeck::fuzzing::config_files` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::config_files(data);
});
