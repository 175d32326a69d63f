//! Scopes run on rings of 128-byte SQEs and 32-byte CQEs, whose completions
//! come out as `BigCqe`s.

use uring::ops::{Nop, Read};
use uring::{BigCqe, Builder, Cqe32, Sqe128};

fn main() {
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [1u8; 16];
    let cqes: Vec<BigCqe> = ring.scope(|s| {
        s.push(Read::new(&file, &mut buf[..]).user_data(1)).unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(2).unwrap();
        s.completions().collect()
    });
    let mut got: Vec<_> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    got.sort();
    assert_eq!(got, [(1, 16), (2, 0)]);
    assert_eq!(buf, [0; 16]);
}
