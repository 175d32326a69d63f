// A value becomes an SQE field through `SqeField`, whose contract is that an
// address comes only from a reference the value holds: implementing it is
// `unsafe`, so a wrapped raw pointer cannot pass for a borrow.
use uring::op::SqeField;

struct Address(*mut u8);

impl SqeField<u64> for Address {
    fn into_field(self) -> u64 {
        self.0 as u64
    }
}

fn main() {}
