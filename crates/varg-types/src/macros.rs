//! Internal macros shared by the contract modules.

/// Declares an "open" string enum: every documented value is a variant, and any other
/// string the server sends decodes into `Unknown(String)` instead of failing.
///
/// Generated: `Serialize`/`Deserialize` as a plain JSON string, `Display`, `FromStr`
/// (infallible), `as_str()`, `KNOWN` (the documented values, in order), `is_known()`,
/// and with the `schema` feature a JSON Schema of the form
/// `anyOf: [{type: string, enum: [known...]}, {type: string}]`.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => $value:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version of the SDK does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every documented value, in documentation order.
            pub const KNOWN: &'static [&'static str] = &[$($value),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)+
                    Self::Unknown(other) => other.as_str(),
                }
            }

            /// `false` for [`Self::Unknown`].
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }

            /// Maps a wire value to a variant; unknown strings become [`Self::Unknown`].
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $($value => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = ::core::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from_wire(value)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }

        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "description": concat!(
                        "Open enum: the documented values are listed; any other string is accepted ",
                        "for forward compatibility."
                    ),
                    "anyOf": [
                        { "type": "string", "enum": Self::KNOWN },
                        { "type": "string" }
                    ],
                    "x-known-values": Self::KNOWN
                })
            }
        }
    };
}

/// Declares a string newtype with `new`, `as_str`, `Display`, conversions and a transparent
/// serde representation.
macro_rules! string_newtype {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "schema", derive(::schemars::JsonSchema))]
        #[serde(transparent)]
        $vis struct $name(::std::borrow::Cow<'static, str>);

        impl $name {
            /// Wraps any string.
            pub fn new(value: impl Into<String>) -> Self {
                Self(::std::borrow::Cow::Owned(value.into()))
            }

            /// Wraps a string known at compile time (usable in `const`).
            pub const fn from_static(value: &'static str) -> Self {
                Self(::std::borrow::Cow::Borrowed(value))
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the wrapper, returning the owned string.
            pub fn into_string(self) -> String {
                self.0.into_owned()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&String> for $name {
            fn from(value: &String) -> Self {
                Self::new(value.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

/// The `provider_option` / `provider_options` setters of a request with a
/// `provider_options: Option<ProviderOptions>` field.
macro_rules! provider_option_setters {
    ($ty:ty) => {
        impl $ty {
            /// Sets one provider option.
            pub fn provider_option(
                mut self,
                key: impl Into<String>,
                value: impl Into<::serde_json::Value>,
            ) -> Self {
                self.provider_options
                    .get_or_insert_with(Default::default)
                    .insert(key.into(), value.into());
                self
            }

            /// Replaces all provider options.
            pub fn provider_options(
                mut self,
                options: $crate::v1::common::ProviderOptions,
            ) -> Self {
                self.provider_options = Some(options);
                self
            }
        }
    };
}

/// The `file` / `files` setters of a request with a `files: Option<Vec<FileRef>>` field.
macro_rules! file_setters {
    ($ty:ty) => {
        impl $ty {
            /// Appends one input file.
            pub fn file(mut self, file: impl Into<$crate::v1::common::FileRef>) -> Self {
                self.files.get_or_insert_with(Vec::new).push(file.into());
                self
            }

            /// Replaces the input files.
            pub fn files<I, F>(mut self, files: I) -> Self
            where
                I: IntoIterator<Item = F>,
                F: Into<$crate::v1::common::FileRef>,
            {
                self.files = Some(files.into_iter().map(Into::into).collect());
                self
            }
        }
    };
}
