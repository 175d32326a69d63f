// Outside a scope, a completion may be made up (`MSG_RING`, `Ring::post`) and
// name a buffer an op is still filling: claiming from a plain `Cqe` takes the
// caller's word, so it needs `unsafe`. Claim from a scope's completion
// (`pool.claim(&mut cqe)`) instead.
use uring::{BufferGroup, Ring};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
    ring.post(0, 1).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    let _ = pool.claim_unchecked(&cqe);
}
