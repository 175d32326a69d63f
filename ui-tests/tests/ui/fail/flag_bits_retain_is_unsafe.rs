// Bits a flag type does not name may change what the kernel reads (bit 31 of
// the splice flags makes the input a fixed file): keeping them is `unsafe`.
use uring::SpliceFlags;

fn main() {
    let _flags = SpliceFlags::from_bits_retain(1 << 31);
}
