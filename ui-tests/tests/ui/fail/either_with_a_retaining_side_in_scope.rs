// An `Either` is `Scoped` only if both its sides are: the kernel keeps the
// buffers `ProvideBuffers` gives it after the op completes, so a scope
// cannot lend them, whichever side the value holds.
use uring::{
    BufferGroup, BufferPool, Either, Ring,
    ops::{Nop, ProvideBuffers},
};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut region = vec![0u8; 64];
    ring.scope(|s| {
        let op: Either<Nop, ProvideBuffers<'_>> = Either::Right(ProvideBuffers::new(
            BufferPool::new(&mut region, 16),
            BufferGroup::new(1),
        ));
        let _ = s.push(op);
    });
}
