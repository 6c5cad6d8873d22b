//! Keeps the server's resident memory close to what it actually holds.
//!
//! glibc's malloc gives every thread that allocates under contention an arena
//! of its own, up to eight per core, and returns freed memory inside an arena
//! to the system only when asked. Masthead's database reads, compression and
//! writes run on tokio's blocking pool, whose threads come and go, so each
//! ended up with an arena: in the soak (`bench/soak`) the server's resident
//! memory was twice what `MALLOC_ARENA_MAX=2` gave on the same load (131 MB
//! against 66 MB after one minute), and it kept creeping as the arenas
//! fragmented. Two calls fix that:
//!
//! - [`limit_arenas`] caps the arenas (`mallopt(M_ARENA_MAX)`), once, before
//!   any thread starts, and fixes the size from which blocks get their own
//!   mapping at 128 KiB (`M_MMAP_THRESHOLD`): glibc otherwise raises it after
//!   every large free, and page bodies and compression buffers then stay in
//!   the arenas (in a soak, resident memory swung between 64 and 82 MB; with
//!   the fixed threshold, 62 to 69 MB);
//! - [`trim`] hands freed pages back (`malloc_trim(0)`, which since glibc 2.8
//!   also releases whole free pages in the middle of every arena); the server
//!   calls it every few seconds on the blocking pool.
//!
//! Elsewhere (musl, other systems) both are no-ops. This is the one crate of
//! the workspace that may use `unsafe`, for these two FFI calls only.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    use std::ffi::c_int;

    /// `M_ARENA_MAX` and `M_MMAP_THRESHOLD` from glibc's `<malloc.h>`.
    const M_ARENA_MAX: c_int = -8;
    const M_MMAP_THRESHOLD: c_int = -3;
    /// Blocks from this size up get their own mapping, returned on free.
    const MMAP_FROM: c_int = 128 * 1024;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
        fn malloc_trim(pad: usize) -> c_int;
    }

    pub fn limit_arenas(n: usize) -> bool {
        let n = c_int::try_from(n.max(1)).unwrap_or(c_int::MAX);
        // SAFETY: mallopt only sets a tunable of the allocator; M_ARENA_MAX
        // takes any positive count, and the call is made before other threads.
        let arenas = unsafe { mallopt(M_ARENA_MAX, n) };
        // SAFETY: as above. A fixed threshold also turns off glibc's dynamic
        // one, which rises after each large free until large response and
        // compression buffers live in the arenas and fragment them.
        let mmap = unsafe { mallopt(M_MMAP_THRESHOLD, MMAP_FROM) };
        arenas == 1 && mmap == 1
    }

    pub fn trim() -> bool {
        // SAFETY: malloc_trim takes the allocator's own locks; it is safe to
        // call from any thread at any time.
        let released = unsafe { malloc_trim(0) };
        released == 1
    }
}

/// Caps glibc's malloc at `n` arenas. Call once at start-up, before the async
/// runtime's threads exist. Returns whether the allocator took the setting
/// (always `false` where the allocator is not glibc's).
pub fn limit_arenas(n: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        glibc::limit_arenas(n)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = n;
        false
    }
}

/// Returns freed memory to the system. Takes the allocator's locks and walks
/// every arena (a few milliseconds on a busy server): call it on a blocking
/// thread, every few seconds at most. Returns whether memory was released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        glibc::trim()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_arena_cap_and_trims() {
        assert!(limit_arenas(2), "mallopt(M_ARENA_MAX) refused");
        // Free a large block of small allocations, then trim: glibc reports
        // that it handed memory back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 512]).collect();
        drop(blocks);
        assert!(trim(), "malloc_trim released nothing after freeing ~10 MB");
    }
}
