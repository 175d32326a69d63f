//! A scope moves completions that are not its own within the CQ, which a
//! ring of mixed CQE sizes does not allow: it has no scopes.

use uring::{Builder, CqeMixed, Sqe64};

fn main() {
    let mut ring = Builder::new().build_sized::<Sqe64, CqeMixed>(8).unwrap();
    ring.scope(|_s| {});
}
