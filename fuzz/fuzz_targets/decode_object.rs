//! Fuzz target: `kdeck::fuzzing::decode_object` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::decode_object(data);
});
