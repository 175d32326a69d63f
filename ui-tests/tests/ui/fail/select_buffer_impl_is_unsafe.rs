// `SelectBuffer` hands the kernel an address to write into: implementing
// it takes `unsafe`.
use uring::op::SelectBuffer;

struct Anywhere(u64);

impl<'a> SelectBuffer<&'a mut [u8]> for Anywhere {
    fn into_parts(self) -> (u64, u32, u16, u8) {
        (self.0, 4096, 0, 0)
    }
}

fn main() {}
