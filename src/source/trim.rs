//! The process's memory beside the stores: after a large list lands in a store, the memory
//! its pages and decoding used is free but still held by the allocator; this hands it back to
//! the OS once the burst is over, so a process's resident size is what its stores keep, not
//! the peak of its first lists. And one allocator arena for the whole process (see
//! [`configure`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A list this long (objects) is worth a trim; smaller ones leave little behind.
pub const LARGE_LIST: usize = 1_000;

/// Lists of many kinds and clusters land together at startup: one trim a second after the
/// first large one covers every list that lands meanwhile.
const SETTLE: Duration = Duration::from_secs(1);

static PENDING: AtomicBool = AtomicBool::new(false);

/// Called after a list of `objects` objects replaced a store's content.
pub fn after_list(objects: usize) {
    if objects < LARGE_LIST || !supported() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    rt.spawn(async {
        tokio::time::sleep(SETTLE).await;
        PENDING.store(false, Ordering::Release);
        // Walking the heap takes milliseconds: off the async workers.
        let _ = tokio::task::spawn_blocking(release).await;
    });
}

const fn supported() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Called first thing in `main`, before any thread starts. glibc gives each thread that
/// contends for the heap an arena of its own (up to 8 per core) and never moves memory between
/// them, so the watch tasks, which run on whichever worker is free, leave the free space of a
/// list spread over several arenas: measured at 10,000 pods, one arena keeps 3-4 MB less
/// resident (two arenas vary between 35 and 40 MiB from run to run), and small allocations
/// still go through each thread's lock-free cache. The price is lock contention while many
/// clusters list at once: on a busy machine ten clusters at `--scale 1000` had all their data
/// after 0.38 s instead of 0.30 s (on a quiet one, 0.30 s with one arena; `benches/startup`).
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns free heap pages to the OS now.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory glibc holds; it takes the allocator's
    // own locks and touches no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
