//! Fuzz target: `kdeck::fuzzing::command_line` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::command_line(data);
});
