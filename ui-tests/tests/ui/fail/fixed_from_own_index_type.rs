// A `Fixed` comes from a registration handle only: a program's own type
// cannot be made convertible into one (`FromRegisterFiles` is sealed).
struct Index(u32);

impl uring::FromRegisterFiles for Index {
    fn into_fixed<'f>(self) -> uring::Fixed<'f> {
        unimplemented!("slot {}", self.0)
    }
}

fn main() {
    let _fixed: uring::Fixed<'static> = Index(3).into();
}
