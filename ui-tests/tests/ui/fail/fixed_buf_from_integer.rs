// A registered buffer is named by the `FixedBuf` its registration handle
// gives (`buffers.get(index)?`), never by a number.
use uring::ops::ReadFixed;

fn main() {
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 16];
    let _read = ReadFixed::new(&file, &mut buf[..], 0u16);
}
