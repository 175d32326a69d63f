// READ_MULTISHOT always selects a provided buffer: it takes a group, and a
// buffer of its own cannot be given.
use uring::ops::ReadMultishot;

fn main() {
    let (rx, _tx) = std::io::pipe().unwrap();
    let mut buf = [0u8; 64];
    let _read = ReadMultishot::new(&rx, &mut buf[..]);
}
