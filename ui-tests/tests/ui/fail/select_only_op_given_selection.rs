// Each multishot completion uses a whole provided buffer: no length is given.
use uring::{BufferGroup, ops::ReadMultishot};

fn main() {
    let (rx, _tx) = std::io::pipe().unwrap();
    let _read = ReadMultishot::new(&rx, BufferGroup::new(7).select(64));
}
