// Provided buffers stay with the kernel after ProvideBuffers completes, to be
// filled by later ops: a scope cannot lend them.
use uring::{BufferGroup, BufferPool, Ring, ops::ProvideBuffers};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut region = vec![0u8; 4096];
    ring.scope(|s| {
        let pool = BufferPool::new(&mut region, 1024);
        s.push(ProvideBuffers::new(pool, BufferGroup::new(1))).unwrap();
    });
}
