//! Small internal macros.

/// Declares a flags newtype over an integer, with named constants.
macro_rules! flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: $ty:ty {
            $($(#[$fmeta:meta])* const $flag:ident = $value:expr;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($ty);

        impl $name {
            $($(#[$fmeta])* pub const $flag: $name = $name($value);)*

            /// No flag.
            pub const fn empty() -> $name {
                $name(0)
            }

            /// Flags from raw bits, kept as they are (bits this crate does
            /// not name are passed to the kernel unchanged).
            pub const fn from_bits_retain(bits: $ty) -> $name {
                $name(bits)
            }

            /// The raw bits.
            pub const fn bits(self) -> $ty {
                self.0
            }

            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut first = true;
                write!(f, "{}(", stringify!($name))?;
                $(
                    if $value != 0 && self.0 & $value == $value {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        first = false;
                        f.write_str(stringify!($flag))?;
                    }
                )*
                let _ = first;
                f.write_str(")")
            }
        }
    };
}
