// A `then_write` pair is a chain like any other: a link timeout may bound
// its write, and the chain may go on after it. The read fills the buffer,
// the write sends it on, the timeout is cancelled once the write is done.
use std::time::Duration;
use uring::{
    Ring,
    ops::{Nop, Read},
};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let src = std::fs::File::open("/dev/zero").unwrap();
    let dst = std::fs::File::options()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let mut buf = [1u8; 64];
    let done = ring.scope(|s| {
        let chain = Read::new(&src, &mut buf[..])
            .user_data(1)
            .then_write_with(&dst, |w| w.user_data(2))
            .timeout_with(Duration::from_secs(5), 3)
            .link(Nop::new().user_data(4));
        s.push(chain).unwrap();
        s.submit_and_wait(4).unwrap();
        let mut done: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        done.sort();
        done
    });
    assert_eq!(done, [(1, 64), (2, 64), (3, -libc::ECANCELED), (4, 0)]);
    assert_eq!(buf, [0u8; 64]);
}
