//! The enveloped XML-DSig signature of a licence reply, exactly as spec offline.md §1 gives it.
//!
//! No canonicaliser is needed, because `crate::response` writes every reply in Canonical XML
//! 1.0 form already (its module doc states that invariant, and its tests hold it against a
//! real canonicaliser). So:
//! - the `Reference URI=""` with the enveloped-signature transform covers the document
//!   element minus the `Signature` element; the signature is inserted just before
//!   `</QuickLicenseManager>`, so that is exactly the bytes the writer wrote, from
//!   `<QuickLicenseManager>` on (the XML declaration is no part of a canonical document);
//! - `SignedInfo` is written here in canonical form too; canonicalised on its own it carries
//!   the `xmlns` declaration it inherits from `Signature`, which is what is signed.
//!
//! Nothing else is whitespace-sensitive: the signature holds no whitespace, and the base64
//! values have no line breaks.

use openssl::hash::MessageDigest;

use super::SigningError;
use super::keys::SigningKey;
use crate::config::SignatureAlgorithm;

/// The XML-DSig namespace, declared on `Signature`.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
const C14N_METHOD: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED_TRANSFORM: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ROOT_OPEN: &str = "<QuickLicenseManager>";
const ROOT_CLOSE: &str = "</QuickLicenseManager>";

/// The URIs and the hash of one signature algorithm.
struct Algorithms {
    signature_method: &'static str,
    digest_method: &'static str,
    digest: MessageDigest,
}

fn algorithms(algorithm: SignatureAlgorithm) -> Algorithms {
    match algorithm {
        SignatureAlgorithm::RsaSha256 => Algorithms {
            signature_method: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            digest_method: "http://www.w3.org/2001/04/xmlenc#sha256",
            digest: MessageDigest::sha256(),
        },
        // Older QLM clients verify nothing else (config.md, signatureAlgorithm).
        SignatureAlgorithm::RsaSha1 => Algorithms {
            signature_method: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            digest_method: "http://www.w3.org/2000/09/xmldsig#sha1",
            digest: MessageDigest::sha1(),
        },
    }
}

/// Signs a reply document written by `crate::response::xml_reply_document` (XML declaration,
/// then the canonical `<QuickLicenseManager>` element) and returns it with the `Signature`
/// element as the last child of `<QuickLicenseManager>`.
pub fn sign_document(
    document: &str,
    key: &SigningKey,
    algorithm: SignatureAlgorithm,
) -> Result<String, SigningError> {
    let start = document.find(ROOT_OPEN).ok_or(SigningError::NotAReply)?;
    let before_close = document
        .strip_suffix(ROOT_CLOSE)
        .ok_or(SigningError::NotAReply)?;
    if document.contains("<Signature") {
        return Err(SigningError::NotAReply);
    }
    let algs = algorithms(algorithm);
    let digest = openssl::hash::hash(algs.digest, &document.as_bytes()[start..])?;
    let digest = openssl::base64::encode_block(&digest);
    let mut signer = openssl::sign::Signer::new(algs.digest, key.private_key())?;
    signer.update(signed_info(&algs, &digest, true).as_bytes())?;
    let value = openssl::base64::encode_block(&signer.sign_to_vec()?);

    let mut out = String::with_capacity(document.len() + 1024);
    out.push_str(before_close);
    out.push_str("<Signature xmlns=\"");
    out.push_str(DSIG_NAMESPACE);
    out.push_str("\">");
    out.push_str(&signed_info(&algs, &digest, false));
    out.push_str("<SignatureValue>");
    out.push_str(&value);
    out.push_str("</SignatureValue><KeyInfo><KeyName>");
    // Key names are `licd-` and hex digits: nothing to escape.
    out.push_str(key.name());
    out.push_str("</KeyName></KeyInfo></Signature>");
    out.push_str(ROOT_CLOSE);
    Ok(out)
}

/// `SignedInfo` in canonical form. `with_namespace`: as canonicalised on its own (what is
/// signed), carrying the default namespace it inherits; without: as written inside
/// `Signature`, where the declaration is already in scope.
fn signed_info(algs: &Algorithms, digest: &str, with_namespace: bool) -> String {
    let open = if with_namespace {
        format!("<SignedInfo xmlns=\"{DSIG_NAMESPACE}\">")
    } else {
        "<SignedInfo>".to_string()
    };
    format!(
        "{open}<CanonicalizationMethod Algorithm=\"{C14N_METHOD}\"></CanonicalizationMethod>\
<SignatureMethod Algorithm=\"{}\"></SignatureMethod><Reference URI=\"\"><Transforms>\
<Transform Algorithm=\"{ENVELOPED_TRANSFORM}\"></Transform></Transforms>\
<DigestMethod Algorithm=\"{}\"></DigestMethod><DigestValue>{digest}</DigestValue>\
</Reference></SignedInfo>",
        algs.signature_method, algs.digest_method
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{Field, Reply, xml_reply_document};
    use crate::signing::test_key;

    fn reply() -> String {
        let mut r = Reply::new("Your license is valid.");
        r.push(Field::text("pckey", "U7K2M-Q9XWD-3T8RB-HN4CZ-E6V1PG"));
        r.push(Field::text("computerID", "PC-7 & <co>"));
        r.push(Field::int("numActivationsAllowed", 1));
        xml_reply_document(&r)
    }

    fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
        let a = s.find(open).unwrap() + open.len();
        let b = a + s[a..].find(close).unwrap();
        &s[a..b]
    }

    /// An independent reading of the signed document: digest recomputed over the document
    /// element without `Signature`, signature checked over the canonical `SignedInfo`.
    fn verifies(signed: &str, algorithm: SignatureAlgorithm) -> bool {
        let algs = algorithms(algorithm);
        let sig_start = signed.find("<Signature ").unwrap();
        let sig_end = signed.find("</Signature>").unwrap() + "</Signature>".len();
        let without = format!("{}{}", &signed[..sig_start], &signed[sig_end..]);
        let element = &without[without.find(ROOT_OPEN).unwrap()..];
        let digest = openssl::hash::hash(algs.digest, element.as_bytes()).unwrap();
        let info = format!(
            "<SignedInfo xmlns=\"{DSIG_NAMESPACE}\">{}</SignedInfo>",
            between(signed, "<SignedInfo>", "</SignedInfo>")
        );
        let value =
            openssl::base64::decode_block(between(signed, "<SignatureValue>", "</SignatureValue>"))
                .unwrap();
        let public = openssl::pkey::PKey::public_key_from_pem(
            test_key().public_key_pem().unwrap().as_bytes(),
        )
        .unwrap();
        let mut verifier = openssl::sign::Verifier::new(algs.digest, &public).unwrap();
        verifier.update(info.as_bytes()).unwrap();
        between(signed, "<DigestValue>", "</DigestValue>") == openssl::base64::encode_block(&digest)
            && verifier.verify(&value).unwrap()
    }

    #[test]
    fn signature_is_the_last_child_and_removing_it_gives_the_reply_back_byte_for_byte() {
        let doc = reply();
        let signed = sign_document(&doc, test_key(), SignatureAlgorithm::RsaSha256).unwrap();
        assert!(signed.ends_with("</Signature></QuickLicenseManager>"));
        let start = signed.find("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">");
        let start = start.unwrap();
        let end = signed.find("</Signature>").unwrap() + "</Signature>".len();
        assert_eq!(format!("{}{}", &signed[..start], &signed[end..]), doc);
        assert!(signed[start..].contains(&format!(
            "<KeyInfo><KeyName>{}</KeyName></KeyInfo>",
            test_key().name()
        )));
    }

    #[test]
    fn rsa_sha256_uses_the_uris_of_offline_md_and_verifies() {
        let signed = sign_document(&reply(), test_key(), SignatureAlgorithm::RsaSha256).unwrap();
        for uri in [
            "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\">",
            "<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\">",
            "<Reference URI=\"\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform></Transforms>",
            "<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\">",
        ] {
            assert!(signed.contains(uri), "{uri} missing from {signed}");
        }
        assert!(verifies(&signed, SignatureAlgorithm::RsaSha256));
    }

    #[test]
    fn rsa_sha1_uses_the_sha1_uris_and_verifies() {
        let signed = sign_document(&reply(), test_key(), SignatureAlgorithm::RsaSha1).unwrap();
        assert!(signed.contains(
            "<SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\">"
        ));
        assert!(
            signed.contains("<DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\">")
        );
        assert!(verifies(&signed, SignatureAlgorithm::RsaSha1));
    }

    #[test]
    fn a_changed_license_byte_no_longer_verifies() {
        let signed = sign_document(&reply(), test_key(), SignatureAlgorithm::RsaSha256).unwrap();
        let tampered = signed.replace("<numActivationsAllowed>1<", "<numActivationsAllowed>9<");
        assert_ne!(tampered, signed);
        assert!(!verifies(&tampered, SignatureAlgorithm::RsaSha256));
    }

    #[test]
    fn only_a_whole_unsigned_reply_document_is_signed() {
        let key = test_key();
        let alg = SignatureAlgorithm::RsaSha256;
        assert!(matches!(
            sign_document("<other></other>", key, alg),
            Err(SigningError::NotAReply)
        ));
        let signed = sign_document(&reply(), key, alg).unwrap();
        assert!(matches!(
            sign_document(&signed, key, alg),
            Err(SigningError::NotAReply)
        ));
    }
}
