// Each multishot completion uses a whole provided buffer: no length is given.
use uring::{BufferGroup, ops::ReadMultishot};

fn main() {
    let _read = ReadMultishot::new(0, BufferGroup::new(7).select(64));
}
