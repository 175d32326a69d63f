// `Target` decides the SQE's `IOSQE_FIXED_FILE` bit and the number in `fd`:
// a program's own target could name a registered slot it never borrowed,
// so the trait is sealed. Use `Fd` (a borrowed file) or `Fixed` (from
// `files.get(index)?`).
#[derive(Clone, Copy)]
struct Slot(i32);

impl uring::Target for Slot {
    const FIXED: bool = true;
    const SQE_FLAGS: u8 = 1;
    fn raw(&self) -> i32 {
        self.0
    }
    fn fits_ring(&self, _ring: u32) -> bool {
        true
    }
    fn ring(&self) -> u32 {
        0
    }
}

fn main() {}
