// A `Statx` lends its `statx` buffer to the kernel, which writes it when the
// op runs: it cannot be read in the scope that lent it, only after.
use uring::{Fd, Ring, ops::Statx};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: all-zero bytes are a valid `statx` (a C struct of integers).
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    ring.scope(|s| {
        s.push(Statx::new(Fd::CWD, c"/", &mut st)).unwrap();
        let _early = st.stx_size;
    });
}
