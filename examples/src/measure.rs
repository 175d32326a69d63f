//! What the I/O drivers share: page-aligned memory for their buffers, the
//! offset generator, and the CPU time of the process.

use std::io;
use std::ptr::NonNull;
use std::time::Duration;

/// The alignment of [`Region`]: a page.
pub const PAGE: usize = 4096;

/// Zeroed, page-aligned memory that the kernel reads into and writes from:
/// the buffers of the drivers, addressed by raw pointers so that no Rust
/// reference to them is alive while an op uses them.
///
/// An anonymous private mapping: the kernel zeroes each page when it is
/// first touched, so buffers no op uses cost no memory (16 GiB of them for
/// `cp --qd 1024 --bs 16777216` of a small file), where `alloc_zeroed`
/// with a page's alignment writes every byte up front.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

impl Region {
    /// `len` zeroed bytes (at least one), aligned to a page.
    pub fn new(len: usize) -> io::Result<Region> {
        let len = len.max(1);
        // SAFETY: a new anonymous mapping, at an address the kernel picks:
        // no memory of the process is affected. `MAP_NORESERVE`: only the
        // pages touched count against the memory available.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Region { ptr, len })
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never: a region has at least one byte).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The region as one iovec, for `register_buffers` of the `io-uring`
    /// crate.
    pub fn iovec(&self, offset: usize, len: usize) -> libc::iovec {
        assert!(offset + len <= self.len(), "iovec outside the region");
        libc::iovec {
            // SAFETY: checked above to stay inside the allocation.
            iov_base: unsafe { self.as_ptr().add(offset) }.cast(),
            iov_len: len,
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length, and unmapped only here.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The offset generator of the random-read benchmarks: xorshift64*, the
/// same in `examples/bench/randread.c`, so that every contender reads the
/// same blocks in the same order.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (0 is replaced by 1: xorshift has no
    /// zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next value.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The offset of a block of `bs` bytes, drawn among the `blocks` of a
    /// file.
    #[inline(always)]
    pub fn block(&mut self, blocks: u64, bs: u32) -> u64 {
        (self.next_u64() % blocks) * u64::from(bs)
    }
}

/// The user and system CPU time the process has used so far.
#[derive(Clone, Copy, Debug)]
pub struct CpuTime {
    /// In user space.
    pub user: Duration,
    /// In the kernel.
    pub system: Duration,
}

impl CpuTime {
    /// Now (`getrusage(RUSAGE_SELF)`).
    pub fn now() -> CpuTime {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `usage` is writable memory for one `rusage`.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        if rc != 0 {
            return CpuTime {
                user: Duration::ZERO,
                system: Duration::ZERO,
            };
        }
        // SAFETY: zeroed, then filled in by the successful call.
        let usage = unsafe { usage.assume_init() };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        CpuTime {
            user: tv(usage.ru_utime),
            system: tv(usage.ru_stime),
        }
    }

    /// The time used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Region, Rng};

    #[test]
    fn the_generator_matches_the_c_loop() {
        // The first values of xorshift64* from seed 1; randread.c checks
        // the same three before it runs.
        let mut rng = Rng::new(1);
        assert_eq!(rng.next_u64(), 0x47e4_ce4b_896c_dd1d);
        assert_eq!(rng.next_u64(), 0xabcf_a6a8_e079_651d);
        assert_eq!(rng.next_u64(), 0xb9d1_0d8f_eb73_1f57);
        let blocks = 1000;
        assert!((0..1000).all(|_| rng.block(blocks, 4096) < blocks * 4096));
        assert_eq!(Rng::new(0).next_u64(), Rng::new(1).next_u64());
    }

    #[test]
    fn regions_are_page_aligned_and_zeroed() {
        let r = Region::new(3 * 4096).unwrap();
        assert_eq!(r.as_ptr() as usize % 4096, 0);
        assert_eq!(r.len(), 3 * 4096);
        // SAFETY: the region is 3 pages of initialised (zeroed) bytes.
        let bytes = unsafe { std::slice::from_raw_parts(r.as_ptr(), r.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
