//! Scope keys: fresh from the kernel's random source for each scope.

use crate::sys;

/// How many keys one `getrandom(2)` draws for a thread's scopes.
pub(super) const KEYS_PER_DRAW: usize = 32;

/// A key for a new scope: eight bytes from the kernel's random source,
/// drawn for this scope alone (a thread draws them in batches, and none is
/// derived from another, so keys seen in the past say nothing of the next).
pub(super) fn fresh_key() -> u64 {
    thread_local! {
        static KEYS: std::cell::RefCell<(usize, [u64; KEYS_PER_DRAW])> =
            const { std::cell::RefCell::new((KEYS_PER_DRAW, [0; KEYS_PER_DRAW])) };
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let (used, batch) = &mut *keys;
        if *used == KEYS_PER_DRAW {
            let mut bytes = [0u8; KEYS_PER_DRAW * 8];
            if sys::getrandom(&mut bytes).is_err() {
                // No random source (a kernel before 3.17): mix what varies.
                // The key is a second line of defence only (see the module
                // doc), so this weakens nothing the borrow rules hold.
                return fallback_key();
            }
            for (key, chunk) in batch.iter_mut().zip(bytes.chunks_exact(8)) {
                *key = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            }
            *used = 0;
        }
        let key = batch[*used];
        *used += 1;
        key
    })
}

/// A key when the kernel has no random source: the time, the process id and
/// an address, mixed.
pub(super) fn fallback_key() -> u64 {
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = time ^ (u64::from(std::process::id()) << 32) ^ (&time as *const u64 as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `keys` are distinct, that each bit takes both values
    /// among them, and that about half of all their bits are set.
    fn assert_look_random(keys: &[u64]) {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len(), "keys repeat: {keys:x?}");
        for bit in 0..64 {
            let set = keys.iter().filter(|&&k| k >> bit & 1 == 1).count();
            assert!(
                set > 0 && set < keys.len(),
                "bit {bit} is set in {set} keys"
            );
        }
        let ones: u32 = keys.iter().map(|k| k.count_ones()).sum();
        let share = f64::from(ones) / (keys.len() * 64) as f64;
        assert!((0.45..0.55).contains(&share), "{share} of the bits are set");
    }

    #[test]
    fn fresh_keys_are_distinct_across_draws() {
        // A new thread starts with no batch: 200 keys span seven draws.
        let keys: Vec<u64> = std::thread::spawn(|| (0..200).map(|_| fresh_key()).collect())
            .join()
            .unwrap();
        assert_look_random(&keys);
    }

    #[test]
    fn fallback_keys_are_distinct_and_mixed() {
        let keys: Vec<u64> = (0..256).map(|_| fallback_key()).collect();
        assert_look_random(&keys);
    }
}
