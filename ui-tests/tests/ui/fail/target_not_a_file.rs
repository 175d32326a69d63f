// A `u32` is neither a descriptor nor a registered file.
use uring::ops::Read;

fn main() {
    let mut buf = [0u8; 16];
    let _read = Read::new(3u32, &mut buf[..]);
}
