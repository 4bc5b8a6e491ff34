//! Fuzz target: `kdeck::fuzzing::kubeconfig` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kdeck::fuzzing::kubeconfig(data);
});
