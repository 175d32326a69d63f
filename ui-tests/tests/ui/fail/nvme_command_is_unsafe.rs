// An NVMe command moves what it says (its block count at the namespace's
// block size), which nothing checks against the buffer it borrows: it is
// made in an `unsafe` block, whose author vouches that the blocks fit.
use uring::NvmeCmd;

fn main() {
    let mut data = [0u8; 512];
    let _read = NvmeCmd::read(1, 0, 7, &mut data);
}
