// The hidden chain builder takes how two ops are joined, soft or hard,
// not SQE flag bits: even in an `unsafe` block, no bit besides a link's
// (a fixed file, a buffer selection) can be set through it.
use uring::op::link;
use uring::ops::Nop;

fn main() {
    let _bits = unsafe { link(Nop::new(), Nop::new(), 0xffu8) };
}
