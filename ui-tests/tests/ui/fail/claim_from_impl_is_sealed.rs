// `BufRing::claim` trusts what a `ClaimFrom` says of a completion (its ring,
// group and stamp): a program's own completion type could vouch for one
// the kernel never posted, so the trait is sealed. Claim from a `ScopeCqe`.
use uring::{ClaimFrom, Cqe};

struct Forged(Cqe);

impl ClaimFrom for Forged {
    fn provenance(&self) -> Option<(u32, u16, bool, u64)> {
        Some((1, 1, false, u64::MAX))
    }
    fn set_claimed(&mut self) {}
    fn completion(&self) -> &Cqe {
        &self.0
    }
    fn head_was_odd(&self) -> Option<bool> {
        None
    }
}

fn main() {}
