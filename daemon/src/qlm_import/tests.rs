//! The two files read together: line numbers, duplicates, activations matched to licences.

use super::*;

const NOW: i64 = 1_800_000_000;

fn any_product(_: u32, _: u32, _: u32) -> bool {
    true
}

fn settings() -> Settings<'static> {
    Settings {
        vendor: "shop",
        qlm_version: "6.0.00",
        now: NOW,
        product_defined: &any_product,
    }
}

const LICENCES: &str = "\u{feff}ActivationKey,ProductID,MajorVersion,MinorVersion,NumLicenses,Comment\n\
    AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFFF,1,1,0,2,\"a comment, with a comma\nand a line break\"\n\
    GGGGG-HHHHH-JJJJJ-KKKKK-MMMMM-NNNNNN,1,1,0,1,\n\
    aaaaa-bbbbb-ccccc-ddddd-eeeee-ffffff,1,1,0,1,\n\
    PPPPP-QQQQQ-RRRRR-SSSSS-TTTTT-VVVVVV,one,1,0,1,\n";

#[test]
fn bad_rows_are_reported_with_their_line_and_the_good_ones_planned() {
    let plan = read(LICENCES.as_bytes(), None, &settings()).unwrap();
    let lines: Vec<u64> = plan.licenses.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 4], "a quoted line break is one row");
    let bad: Vec<(u64, &str)> = plan
        .bad
        .iter()
        .map(|b| (b.line, b.reason.as_str()))
        .collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0].0, 5);
    assert!(bad[0].1.contains("already on line 2"), "{bad:?}");
    assert_eq!(bad[1].0, 6);
    assert!(bad[1].1.contains("ProductID"), "{bad:?}");
}

#[test]
fn activations_join_their_licence_and_what_does_not_fit_is_reported() {
    let activations = "ActivationKey,ComputerID,ComputerKey,ActivationDate\n\
        AAAAABBBBBCCCCCDDDDDEEEEEFFFFFF,PC1,QK1,2025-01-01\n\
        AAAAABBBBBCCCCCDDDDDEEEEEFFFFFF,PC1,QK1,2025-01-01\n\
        AAAAABBBBBCCCCCDDDDDEEEEEFFFFFF,PC2,QK2,2024-01-01\n\
        AAAAABBBBBCCCCCDDDDDEEEEEFFFFFF,PC3,QK3,2024-01-01\n\
        PPPPP-QQQQQ-RRRRR-SSSSS-TTTTT-VVVVVV,PC1,QK4,\n\
        ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZZ,PC1,QK5,\n\
        short,row\n";
    let plan = read(
        LICENCES.as_bytes(),
        Some(activations.as_bytes()),
        &settings(),
    )
    .unwrap();
    let first = &plan.licenses[0];
    assert_eq!(first.activations.len(), 2);
    assert_eq!(first.license.activations_used, 2);
    assert_eq!(first.license.first_activation, dates_2024());
    let bad: Vec<String> = plan
        .bad
        .iter()
        .filter(|b| b.file == File::Activations)
        .map(ToString::to_string)
        .collect();
    assert_eq!(bad.len(), 5, "{bad:#?}");
    assert!(
        bad[0].contains("line 3") && bad[0].contains("already activated"),
        "{bad:#?}"
    );
    assert!(
        bad[1].contains("line 5") && bad[1].contains("allows 2"),
        "{bad:#?}"
    );
    assert!(
        bad[2].contains("line 6") && bad[2].contains("line 6) cannot be imported"),
        "{bad:#?}"
    );
    assert!(
        bad[3].contains("line 7") && bad[3].contains("no licence"),
        "{bad:#?}"
    );
    assert!(
        bad[4].contains("line 8") && bad[4].contains("fields"),
        "{bad:#?}"
    );
}

fn dates_2024() -> Option<i64> {
    crate::license::dates::parse_export_date("2024-01-01")
}

#[test]
fn a_file_without_qlms_header_cannot_be_read_at_all() {
    let e = read(b"key,product\nA,1\n", None, &settings()).unwrap_err();
    assert_eq!(e.file, File::Licenses);
    assert!(e.reason.contains("ActivationKey"), "{e}");
    let e = read(b"", None, &settings()).unwrap_err();
    assert!(e.reason.contains("empty"), "{e}");
}

#[test]
fn lines_are_counted_alike_with_crlf_line_ends() {
    let crlf = LICENCES.replace('\n', "\r\n");
    let plan = read(crlf.as_bytes(), None, &settings()).unwrap();
    let lines: Vec<u64> = plan.licenses.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 4]);
}
