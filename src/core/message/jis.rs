//! ISO-2022-JP, the Japanese mail convention (RFC 1468): half-width katakana made full-width
//! (with their voiced marks joined), the characters it cannot carry (outside JIS X 0208, vendor
//! extensions included) found before anything is built, header text as `=?ISO-2022-JP?B?…?=` words (each ends in ASCII, each under 76
//! characters) and body text as 7-bit bytes, every line back in ASCII before its end. Pure text
//! work with encoding_rs; no I/O, and never a silent `?` for a character it cannot carry.

use base64::Engine as _;

/// The longest encoded word RFC 2047 allows.
const MAX_WORD: usize = 75;
const WORD_OVERHEAD: usize = "=?ISO-2022-JP?B??=".len();

/// Half-width katakana (U+FF61–U+FF9F), in order, as full-width.
const FULL: [char; 63] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア', 'イ', 'ウ',
    'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ',
    'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル',
    'レ', 'ロ', 'ワ', 'ン', '゛', '゜',
];

/// `c` with a voiced (゛) or semi-voiced (゜) mark, where Japanese has such a letter (each
/// follows its plain letter in Unicode: カ ガ, ハ バ パ).
fn voiced(c: char, semi: bool) -> Option<char> {
    const VOICED: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
    match (c, semi) {
        ('ウ', false) => Some('ヴ'),
        (c, false) if VOICED.contains(c) => char::from_u32(c as u32 + 1),
        ('ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ', true) => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

/// Half-width katakana made full-width, a following ﾞ or ﾟ joined to its letter where Japanese
/// has the voiced letter (ｶﾞ → ガ, ﾊﾟ → パ), left as ゛/゜ where it has not.
pub fn fullwidth_kana(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let Some(full) = ('\u{ff61}'..='\u{ff9f}').contains(&c).then(|| FULL[(c as u32 - 0xff61) as usize]) else {
            out.push(c);
            continue;
        };
        if matches!(full, '゛' | '゜')
            && let Some(last) = out.pop()
        {
            match voiced(last, full == '゜') {
                Some(v) => out.push(v),
                None => {
                    out.push(last);
                    out.push(full);
                }
            }
            continue;
        }
        out.push(full);
    }
    out
}

/// The characters of `text` ISO-2022-JP cannot carry, each once, in the order they first appear
/// (after `fullwidth_kana`). Empty: it can be sent as it is.
pub fn unencodable(text: &str) -> Vec<char> {
    let mut found: Vec<char> = Vec::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if c.is_ascii() || found.contains(&c) {
            continue;
        }
        let (bytes, _, errors) = encoding_rs::ISO_2022_JP.encode(c.encode_utf8(&mut buf));
        // encoding_rs follows the WHATWG index, which also maps the NEC and IBM extensions
        // (①, ㈱, 髙, …): rows JIS X 0208 leaves empty, which a recipient's ISO-2022-JP shows as
        // garbage or nothing. Only JIS X 0208's own rows count (1–8 symbols and kana, 16–84
        // kanji).
        let jis_row = match bytes.as_ref() {
            [0x1b, b'$', b'B', lead, ..] => Some(lead.wrapping_sub(0x20)),
            _ => None,
        };
        if errors || jis_row.is_some_and(|row| !matches!(row, 1..=8 | 16..=84)) {
            found.push(c);
        }
    }
    found
}

fn encode(text: &str) -> Vec<u8> {
    encoding_rs::ISO_2022_JP.encode(text).0.into_owned()
}

/// Header text as encoded words, each a whole ISO-2022-JP run that ends in ASCII and is at most
/// 75 characters; the words are folded onto lines of their own. ASCII text is left as it is.
/// The caller has checked `unencodable` is empty.
pub fn header_words(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let fits = |chunk: &str| encode(chunk).len().div_ceil(3) * 4 + WORD_OVERHEAD <= MAX_WORD;
    let mut words: Vec<String> = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        chunk.push(c);
        if !fits(&chunk) {
            chunk.pop();
            words.push(std::mem::take(&mut chunk));
            chunk.push(c);
        }
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| format!("=?ISO-2022-JP?B?{}?=", base64::engine::general_purpose::STANDARD.encode(encode(w))))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Body text as ISO-2022-JP bytes with CRLF line ends; every line returns to ASCII before it
/// ends (the encoder switches for the line break itself).
pub fn body(text: &str) -> Vec<u8> {
    let unix = text.replace("\r\n", "\n").replace('\r', "\n");
    encode(&unix.replace('\n', "\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        encoding_rs::ISO_2022_JP.decode(bytes).0.into_owned()
    }

    #[test]
    fn half_width_kana_become_full_width_with_their_marks() {
        assert_eq!(fullwidth_kana("ｶﾞｯｺｳ ﾊﾟｰﾃｨｰ ｳﾞｧｲｵﾘﾝ ﾃﾞｽ｡"), "ガッコウ パーティー ヴァイオリン デス。");
        assert_eq!(fullwidth_kana("ﾏﾞ ｱﾟ ﾞ"), "マ゛ ア゜ ゛", "no voiced letter: the mark stays");
        assert_eq!(fullwidth_kana("「漢字」と ASCII"), "「漢字」と ASCII");
        assert_eq!(fullwidth_kana("ｷﾞｸﾞｹﾞｺﾞｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞﾋﾞﾌﾞﾍﾞﾎﾞﾋﾟﾌﾟﾍﾟﾎﾟ"), "ギグゲゴザジズゼゾダヂヅデドビブベボピプペポ");
    }

    #[test]
    fn what_iso_2022_jp_cannot_carry_is_named_once() {
        assert_eq!(unencodable("①番の㈱、😀と①"), vec!['①', '㈱', '😀']);
        assert!(unencodable("日本語のメール、かな・カナ・漢字。ＡＢＣ").is_empty());
        assert_eq!(unencodable("髙橋"), vec!['髙'], "a kanji outside JIS X 0208");
    }

    #[test]
    fn header_words_end_in_ascii_and_fit() {
        let subject = "期末レポートの提出について（情報科学概論）".repeat(3);
        let encoded = header_words(&subject);
        let mut decoded = String::new();
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= MAX_WORD, "{word}");
            let b64 = word.strip_prefix("=?ISO-2022-JP?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            assert!(bytes.ends_with(b"\x1b(B") || bytes.is_ascii() && !bytes.contains(&0x1b), "{bytes:?}");
            decoded += &decode(&bytes);
        }
        assert_eq!(decoded, subject);
        assert_eq!(header_words("Report"), "Report");
    }

    #[test]
    fn body_lines_return_to_ascii_before_they_end() {
        let bytes = body("一行目\n二行目\r\n\nend");
        assert!(bytes.is_ascii());
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(!line.contains(&0x1b) || line.ends_with(b"\x1b(B"), "{line:?}");
        }
        assert_eq!(decode(&bytes), "一行目\r\n二行目\r\n\r\nend");
    }
}
