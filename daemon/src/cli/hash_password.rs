//! `licd hash-password`: the argon2id hash an admin puts in a vendor's `passwordHash`.

use std::io::Read;

use anyhow::{Context, bail};

/// Reads one password on standard input (a final line break is not part of it) and prints
/// its hash; an empty password is refused.
pub fn hash_password() -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    if password.is_empty() {
        bail!("the password is empty");
    }
    println!("{}", licd::auth::password::hash_password(password)?);
    Ok(())
}
