// A crate declares an op the library does not have, with the same macro, and
// gets the same typestate: here, a NOP that completes with a chosen result
// (IORING_NOP_INJECT_RESULT, Linux 6.10).
use std::time::Duration;
use uring::Ring;

uring::ops! {
    #![list(pub const MY_OPS)]

    /// Completes with `result`.
    #[since = "6.10"]
    pub unsafe struct InjectNop = NOP {
        /// The result to complete with.
        result: i32 => len,
        const nop_flags = uring::sys::IORING_NOP_INJECT_RESULT,
    }
}

fn main() {
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(MY_OPS.len(), 1);
    assert_eq!((MY_OPS[0].name, MY_OPS[0].code, MY_OPS[0].since), ("InjectNop", 0, "6.10"));
    ring.push(InjectNop::new(-libc::ENOSPC).user_data(1)).unwrap();
    // Its chain methods come with it.
    ring.push(InjectNop::new(7).user_data(2).timeout(Duration::from_secs(5))).unwrap();
    ring.submit_and_wait(3).unwrap();
    let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort();
    assert_eq!(done, [(0, -libc::ECANCELED), (1, -libc::ENOSPC), (2, 7)]);
}
