//! Youth-care regions (*jeugdregio's*) as reference data. Statistics Netherlands (CBS) publishes
//! the municipality → region table yearly ("Gebieden in Nederland", GMxxxx → JZxx, CC BY).
//! Membership carries a validity start, so a merger of regions is an import, not a code change.

use super::types::{MunicipalityCode, RegionCode};
use super::FieldError;
use chrono::NaiveDate;
use std::collections::HashMap;

/// One municipality's membership of a region from `valid_from` on (until a later row for the
/// same municipality takes over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionMembership {
    pub municipality_code: MunicipalityCode,
    pub municipality_name: String,
    pub region_code: RegionCode,
    pub region_name: String,
    pub valid_from: NaiveDate,
}

/// More rows than the Netherlands has municipalities for decades; a larger file is a mistake.
pub const MAX_IMPORT_ROWS: usize = 20_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Column {
    MunicipalityCode,
    MunicipalityName,
    RegionCode,
    RegionName,
    ValidFrom,
}

/// Our own header names and the labels CBS uses in its downloads, compared after lowercasing
/// and dropping everything but letters and digits.
fn column_of(header: &str) -> Option<Column> {
    let key: String = header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "municipalitycode" | "gemeentecode" | "gemeentecodegm" | "codegemeente" => {
            Column::MunicipalityCode
        }
        "municipalityname" | "gemeentenaam" | "naamgemeente" => Column::MunicipalityName,
        "regioncode"
        | "jeugdregiocode"
        | "jeugdzorgregiocode"
        | "jeugdzorgregiocodejz"
        | "jeugdregiocodejz"
        | "codejeugdzorgregio" => Column::RegionCode,
        "regionname" | "jeugdregionaam" | "jeugdzorgregionaam" | "jeugdzorgregio"
        | "naamjeugdzorgregio" => Column::RegionName,
        "validfrom" | "geldigvanaf" | "ingangsdatum" => Column::ValidFrom,
        _ => return None,
    })
}

/// Parses and validates a region table. The whole file is checked before anything is used:
/// either every row is valid, or the errors name each bad line (`line N: field`).
/// `default_valid_from` applies when the file has no validity column (CBS files have none).
pub fn parse_region_csv(
    input: &[u8],
    default_valid_from: Option<NaiveDate>,
) -> Result<Vec<RegionMembership>, Vec<FieldError>> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let first_line = input.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);

    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(_) => return Err(vec![FieldError::new("header", "not a readable CSV header")]),
    };
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let name = match column_of(h) {
            Some(Column::MunicipalityCode) => "municipality_code",
            Some(Column::MunicipalityName) => "municipality_name",
            Some(Column::RegionCode) => "region_code",
            Some(Column::RegionName) => "region_name",
            Some(Column::ValidFrom) => "valid_from",
            None => continue,
        };
        if index.insert(name, i).is_some() {
            errors.push(FieldError::new(
                "header",
                format!("column {name} appears twice"),
            ));
        }
    }
    for required in [
        "municipality_code",
        "municipality_name",
        "region_code",
        "region_name",
    ] {
        if !index.contains_key(required) {
            errors.push(FieldError::new(
                "header",
                format!("column {required} is missing"),
            ));
        }
    }
    if !index.contains_key("valid_from") && default_valid_from.is_none() {
        errors.push(FieldError::new(
            "header",
            "column valid_from is missing and no valid_from was given",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut rows = Vec::new();
    let mut seen: HashMap<(MunicipalityCode, NaiveDate), usize> = HashMap::new();
    let mut region_names: HashMap<RegionCode, String> = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        if n >= MAX_IMPORT_ROWS {
            errors.push(FieldError::new(
                format!("line {line}"),
                format!("more than {MAX_IMPORT_ROWS} rows"),
            ));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                errors.push(FieldError::new(
                    format!("line {line}"),
                    "not a valid CSV row",
                ));
                continue;
            }
        };
        let get = |name: &str| record.get(index[name]).unwrap_or("").to_string();
        let field = |name: &str| format!("line {line}: {name}");
        let mcode = get("municipality_code").parse::<MunicipalityCode>();
        let rcode = get("region_code").parse::<RegionCode>();
        let mname = get("municipality_name");
        let rname = get("region_name");
        let valid_from = match index.get("valid_from") {
            Some(&i) => {
                NaiveDate::parse_from_str(record.get(i).unwrap_or(""), "%Y-%m-%d").map_err(|_| ())
            }
            None => default_valid_from.ok_or(()),
        };
        let before = errors.len();
        if let Err(e) = &mcode {
            errors.push(FieldError::new(field("municipality_code"), e.clone()));
        }
        if let Err(e) = &rcode {
            errors.push(FieldError::new(field("region_code"), e.clone()));
        }
        for (name, value) in [("municipality_name", &mname), ("region_name", &rname)] {
            if value.is_empty() || value.chars().count() > 200 {
                errors.push(FieldError::new(field(name), "must be 1 to 200 characters"));
            }
        }
        if valid_from.is_err() {
            errors.push(FieldError::new(
                field("valid_from"),
                "must be a date YYYY-MM-DD",
            ));
        }
        if errors.len() > before {
            continue;
        }
        let (mcode, rcode, valid_from) = (mcode.unwrap(), rcode.unwrap(), valid_from.unwrap());
        if let Some(prev) = seen.insert((mcode.clone(), valid_from), line) {
            errors.push(FieldError::new(
                field("municipality_code"),
                format!("same municipality and valid_from as line {prev}"),
            ));
            continue;
        }
        match region_names.get(&rcode) {
            Some(name) if *name != rname => errors.push(FieldError::new(
                field("region_name"),
                format!("region {rcode} has another name on an earlier line"),
            )),
            _ => {
                region_names.insert(rcode.clone(), rname.clone());
            }
        }
        rows.push(RegionMembership {
            municipality_code: mcode,
            municipality_name: mname,
            region_code: rcode,
            region_name: rname,
            valid_from,
        });
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("body", "the file has no rows"));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The region a municipality belongs to on `on`, given its memberships: the one with the
/// latest `valid_from` not after `on`.
pub fn region_on<'a>(
    memberships: impl IntoIterator<Item = (&'a RegionCode, NaiveDate)>,
    on: NaiveDate,
) -> Option<&'a RegionCode> {
    memberships
        .into_iter()
        .filter(|(_, from)| *from <= on)
        .max_by_key(|(_, from)| *from)
        .map(|(code, _)| code)
}

/// What applying an import would change, per municipality, against the memberships in force
/// on the rows' start dates. An import never removes a membership: a municipality missing from
/// the file keeps its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionChange {
    /// A municipality the table did not know.
    Added {
        municipality: String,
        region_code: String,
    },
    /// A municipality that moves to another region (a merger or a split).
    Moved {
        municipality: String,
        from: String,
        to: String,
    },
    /// A region with another name (region names carry no date: the new name holds at once).
    RegionRenamed {
        region: String,
        from: String,
        to: String,
    },
    /// Same region, another name for the municipality.
    Renamed {
        municipality: String,
        from: String,
        to: String,
    },
}

/// The regions an import renames: `current` maps a region code to its name now.
pub fn region_renames(
    current: &HashMap<String, String>,
    rows: &[RegionMembership],
) -> Vec<RegionChange> {
    let mut seen = std::collections::BTreeMap::new();
    for r in rows {
        seen.entry(r.region_code.to_string())
            .or_insert_with(|| r.region_name.clone());
    }
    seen.into_iter()
        .filter_map(|(code, name)| match current.get(&code) {
            Some(old) if *old != name => Some(RegionChange::RegionRenamed {
                region: code,
                from: old.clone(),
                to: name,
            }),
            _ => None,
        })
        .collect()
}

/// The changes an import makes; `current` maps a municipality code to its (name, region code)
/// now. Rows that change nothing are counted in the second value.
pub fn region_changes(
    current: &HashMap<String, (String, String)>,
    rows: &[RegionMembership],
) -> (Vec<RegionChange>, usize) {
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for r in rows {
        let code = r.municipality_code.as_str();
        let label = format!("{} ({code})", r.municipality_name);
        match current.get(code) {
            None => changes.push(RegionChange::Added {
                municipality: label,
                region_code: r.region_code.to_string(),
            }),
            Some((_, region)) if region != r.region_code.as_str() => {
                changes.push(RegionChange::Moved {
                    municipality: label,
                    from: region.clone(),
                    to: r.region_code.to_string(),
                })
            }
            Some((name, _)) if *name != r.municipality_name => {
                changes.push(RegionChange::Renamed {
                    municipality: code.to_string(),
                    from: name.clone(),
                    to: r.municipality_name.clone(),
                })
            }
            Some(_) => unchanged += 1,
        }
    }
    (changes, unchanged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_region_rename_is_previewed() {
        let csv = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                   GM0344,Utrecht,JZ22,Utrecht (stad),2027-01-01\n\
                   GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2027-01-01\n";
        let rows = parse_region_csv(csv.as_bytes(), None).unwrap();
        let current: HashMap<String, String> =
            [("JZ22", "Utrecht Stad"), ("JZ14", "Amsterdam-Amstelland")]
                .into_iter()
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .collect();
        assert_eq!(
            region_renames(&current, &rows),
            vec![RegionChange::RegionRenamed {
                region: "JZ22".into(),
                from: "Utrecht Stad".into(),
                to: "Utrecht (stad)".into()
            }]
        );
    }

    #[test]
    fn an_import_is_previewed_per_municipality() {
        let csv = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                   GM0344,Utrecht,JZ22,Utrecht Stad,2027-01-01\n\
                   GM0363,Amsterdam,JZ15,Groot-Amsterdam,2027-01-01\n\
                   GM0362,Amstelveen Centrum,JZ14,Amstelland,2027-01-01\n\
                   GM1234,Nieuwstad,JZ14,Amstelland,2027-01-01\n";
        let rows = parse_region_csv(csv.as_bytes(), None).unwrap();
        let current: HashMap<String, (String, String)> = [
            ("GM0344", "Utrecht", "JZ22"),
            ("GM0363", "Amsterdam", "JZ14"),
            ("GM0362", "Amstelveen", "JZ14"),
            ("GM0999", "Elders", "JZ01"),
        ]
        .into_iter()
        .map(|(c, n, r)| (c.to_string(), (n.to_string(), r.to_string())))
        .collect();
        let (changes, unchanged) = region_changes(&current, &rows);
        assert_eq!(unchanged, 1);
        assert_eq!(
            changes,
            vec![
                RegionChange::Moved {
                    municipality: "Amsterdam (GM0363)".into(),
                    from: "JZ14".into(),
                    to: "JZ15".into()
                },
                RegionChange::Renamed {
                    municipality: "GM0362".into(),
                    from: "Amstelveen".into(),
                    to: "Amstelveen Centrum".into()
                },
                RegionChange::Added {
                    municipality: "Nieuwstad (GM1234)".into(),
                    region_code: "JZ14".into()
                },
            ]
        );
    }

    #[test]
    fn parses_our_own_header() {
        let csv = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                   GM0344,Utrecht,JZ22,Utrecht Stad,2025-01-01\n\
                   GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2025-01-01\n";
        let rows = parse_region_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].municipality_code.as_str(), "GM0363");
        assert_eq!(rows[1].valid_from, d("2025-01-01"));
    }

    #[test]
    fn parses_cbs_labels_with_semicolons_and_padding() {
        let csv = "\u{feff}GemeentecodeGM;Gemeentenaam;JeugdzorgregioCode;JeugdzorgregioNaam\n\
                   GM0344    ;Utrecht;JZ22  ;Utrecht Stad\n";
        let rows = parse_region_csv(csv.as_bytes(), Some(d("2026-01-01"))).unwrap();
        assert_eq!(rows[0].municipality_code.as_str(), "GM0344");
        assert_eq!(rows[0].region_code.as_str(), "JZ22");
        assert!(parse_region_csv(csv.as_bytes(), None).is_err());
    }

    #[test]
    fn names_every_bad_line() {
        let csv = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                   GM034,Utrecht,JZ22,Utrecht Stad,2025-01-01\n\
                   GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2025-13-01\n\
                   GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2025-01-01\n\
                   GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2025-01-01\n\
                   GM0362,Amstelveen,JZ14,Amstelland,2025-01-01\n";
        let errs = parse_region_csv(csv.as_bytes(), None).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "line 2: municipality_code",
                "line 3: valid_from",
                "line 5: municipality_code",
                "line 6: region_name"
            ]
        );
    }

    #[test]
    fn rejects_missing_columns_and_empty_files() {
        assert!(parse_region_csv(b"municipality_code,region_code\nGM0344,JZ22\n", None).is_err());
        assert!(parse_region_csv(
            b"municipality_code,municipality_name,region_code,region_name,valid_from\n",
            None
        )
        .is_err());
        assert!(parse_region_csv(b"", None).is_err());
    }

    #[test]
    fn a_merger_takes_over_from_its_date() {
        let a: RegionCode = "JZ01".parse().unwrap();
        let b: RegionCode = "JZ41".parse().unwrap();
        let m = [(&a, d("2020-01-01")), (&b, d("2027-01-01"))];
        assert_eq!(region_on(m, d("2019-12-31")), None);
        assert_eq!(region_on(m, d("2026-12-31")), Some(&a));
        assert_eq!(region_on(m, d("2027-01-01")), Some(&b));
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_region_csv(&bytes, Some(d("2026-01-01")));
        }
    }
}
