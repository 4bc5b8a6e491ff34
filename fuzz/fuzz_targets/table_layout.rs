//! Fuzz target: `kdeck::fuzzing::table_layout` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::table_layout(data);
});
