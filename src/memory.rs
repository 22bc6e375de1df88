//! Keeps the daemon's idle footprint small on glibc.
//!
//! glibc gives every thread that allocates its own arena (up to eight per core) and keeps
//! freed pages mapped. For a daemon that allocates in bursts (the first full poll, a webhook
//! storm) and then idles, that is most of its resident memory. One arena is enough for a
//! daemon that mostly waits on the network (the webhook benchmark's p99 fell with it), and
//! trimming after a burst returns what is free. Elsewhere (musl, as in the add-on's Alpine
//! image, whose allocator already keeps one heap and unmaps freed pages; other systems)
//! both are no-ops.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free heap is handed back while running.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Caps glibc's malloc arenas. Call before any thread is started.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns freed heap pages to the operating system.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory malloc considers free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims on a timer until `cancel`: cheap when nothing is free, and bounds what a burst
/// leaves behind to one interval.
pub async fn run(cancel: CancellationToken) {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                // On the blocking pool: a trim walks the heap.
                let _ = tokio::task::spawn_blocking(release_free).await;
            }
        }
    }
}
