//! Boilerplate phrases per language (uk ru ro pl de fr en): the short blocks that sit inside an
//! article container but are not the article ("Read also", "Subscribe to our channel", "Photo:",
//! "All rights reserved"). Only short blocks are tested (the caller checks the length), so a
//! phrase may safely be a prefix: a real paragraph that happens to start with "Read also" is
//! long enough to be kept.

/// Blocks starting with one of these are boilerplate.
const PREFIXES: &[&str] = &[
    // en
    "read more",
    "read also",
    "also read",
    "see also",
    "related:",
    "related articles",
    "related stories",
    "more from",
    "recommended",
    "advertisement",
    "sponsored",
    "sign up",
    "subscribe",
    "follow us",
    "share this",
    "share on",
    "click here",
    "photo:",
    "photograph:",
    "image:",
    "image source",
    "credit:",
    "getty images",
    "(photo",
    "video:",
    "watch:",
    "listen:",
    "copyright",
    "©",
    "all rights reserved",
    "this article was",
    "this story was",
    "we use cookies",
    "continue reading",
    "more:",
    "read next",
    "trending",
    "most read",
    "most popular",
    "download our app",
    "join our",
    "get the latest",
    "have a tip",
    "story continues below",
    "article continues below",
    "skip to",
    "loading",
    // uk
    "читайте також",
    "читайте ще",
    "дивіться також",
    "див. також",
    "реклама",
    "підписуйтесь",
    "підписуйтеся",
    "підпишіться",
    "фото:",
    "відео:",
    "джерело:",
    "поділитися",
    "стежте за",
    "слідкуйте за",
    "новини партнерів",
    "усі права захищено",
    "всі права захищено",
    "приєднуйтесь",
    "якщо ви помітили помилку",
    "помітили помилку",
    // ru
    "читайте также",
    "смотрите также",
    "см. также",
    "подписывайтесь",
    "подпишитесь",
    "фото:",
    "видео:",
    "источник:",
    "поделиться",
    "следите за",
    "новости партнеров",
    "все права защищены",
    "присоединяйтесь",
    "если вы заметили ошибку",
    "реклама",
    // ro
    "citește și",
    "citeste si",
    "citește mai mult",
    "vezi și",
    "vezi si",
    "urmărește",
    "urmareste",
    "abonează-te",
    "aboneaza-te",
    "foto:",
    "sursa foto",
    "sursa:",
    "publicitate",
    "toate drepturile rezervate",
    "distribuie",
    "articol susținut",
    "citiți și",
    // pl
    "czytaj także",
    "czytaj też",
    "czytaj również",
    "czytaj więcej",
    "zobacz także",
    "zobacz też",
    "zobacz również",
    "reklama",
    "subskrybuj",
    "obserwuj nas",
    "fot.",
    "zdjęcie:",
    "źródło:",
    "wszelkie prawa zastrzeżone",
    "udostępnij",
    "polecamy",
    // de
    "lesen sie auch",
    "lesen sie mehr",
    "mehr zum thema",
    "auch interessant",
    "weiterlesen",
    "anzeige",
    "werbung",
    "abonnieren",
    "folgen sie uns",
    "foto:",
    "bild:",
    "quelle:",
    "alle rechte vorbehalten",
    "teilen",
    "mehr lesen",
    "zum thema",
    // fr
    "lire aussi",
    "à lire aussi",
    "a lire aussi",
    "lire la suite",
    "voir aussi",
    "publicité",
    "abonnez-vous",
    "suivez-nous",
    "photo :",
    "crédit photo",
    "source :",
    "tous droits réservés",
    "partager",
    "sur le même sujet",
    "newsletter",
];

/// Blocks equal to one of these (ignoring case and trailing punctuation) are boilerplate.
const WHOLE: &[&str] = &[
    "share",
    "tweet",
    "email",
    "print",
    "comments",
    "facebook",
    "twitter",
    "whatsapp",
    "telegram",
    "advertisement",
    "ad",
    "close",
    "menu",
    "more",
    "next",
    "previous",
    "back to top",
    "top",
    "поділитися",
    "поделиться",
    "коментарі",
    "комментарии",
    "comentarii",
    "komentarze",
    "kommentare",
    "commentaires",
    "partager",
    "teilen",
    "udostępnij",
    "distribuie",
    // Labels over the boxes that follow an article (their links are dropped, the label stays).
    "view comments",
    "no comments",
    "keine kommentare",
    "schlagworte",
    "weitere themen",
    "ähnliche beiträge",
    "das könnte sie auch interessieren",
    "zum weiterlesen",
    "veja também",
    "leia também",
];

/// Photo agency credits; a short block containing one is a credit line.
const CREDITS: &[&str] = &[
    "getty images",
    "ap photo",
    "afp via",
    "afp photo",
    "shutterstock",
    "reuters/",
    "/ reuters",
    "| reuters",
    "epa-efe",
    "/ epa",
    "фото:",
    "фото —",
    "foto:",
    "photo:",
    "zdjęcie:",
    "bild:",
    "image:",
];

/// Words that may appear in a dateline besides numbers: months, weekdays, "updated", zones.
const DATE_WORDS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "am",
    "pm",
    "a",
    "m",
    "p",
    "updated",
    "update",
    "published",
    "first",
    "last",
    "posted",
    "on",
    "at",
    "modified",
    "utc",
    "gmt",
    "est",
    "edt",
    "cst",
    "cdt",
    "pst",
    "pdt",
    "cet",
    "cest",
    "eet",
    "eest",
    "msk",
    "ist",
    "bst",
    "et",
    "pt",
    "ct",
    "date",
    "time",
    "h",
    "hours",
    "ago",
    "min",
    "mins",
    // uk ru ro pl de fr
    "січня",
    "лютого",
    "березня",
    "квітня",
    "травня",
    "червня",
    "липня",
    "серпня",
    "вересня",
    "жовтня",
    "листопада",
    "грудня",
    "оновлено",
    "опубліковано",
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
    "обновлено",
    "опубликовано",
    "ianuarie",
    "februarie",
    "martie",
    "aprilie",
    "mai",
    "iunie",
    "iulie",
    "august",
    "septembrie",
    "octombrie",
    "noiembrie",
    "decembrie",
    "actualizat",
    "publicat",
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
    "aktualizacja",
    "januar",
    "februar",
    "märz",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "aktualisiert",
    "veröffentlicht",
    "um",
    "uhr",
    "am",
    "janvier",
    "février",
    "mars",
    "avril",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "publié",
    "le",
    "mis",
    "à",
    "jour",
    "à",
];

/// A block that is only a date or time ("Updated 11:21 pm CST, Tuesday, November 19, 2019").
pub fn is_dateline(text: &str) -> bool {
    if text.chars().count() > 80 {
        return false;
    }
    let lower = text.to_lowercase();
    let mut has_number = false;
    let mut words = 0;
    for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        words += 1;
        if word.chars().all(|c| c.is_ascii_digit()) || is_ordinal(word) {
            has_number = true;
        } else if !DATE_WORDS.contains(&word) {
            return false;
        }
    }
    has_number && words >= 2
}

fn is_ordinal(word: &str) -> bool {
    let digits = word.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && matches!(&word[digits..], "st" | "nd" | "rd" | "th")
}

/// A PHP diagnostic printed into the page ("Warning: Use of undefined constant … in
/// /path/plugin.php on line 928"): the server talking, never the article, however long. Sites
/// with a broken plugin print a screenful of them into a sidebar, which then outweighs a short
/// post.
pub fn is_server_error(text: &str) -> bool {
    const LEVELS: &[&str] =
        &["Warning:", "Notice:", "Deprecated:", "Fatal error:", "Parse error:", "Strict Standards:"];
    let text = text.trim_start();
    LEVELS.iter().any(|level| text.starts_with(level)) && text.contains(" on line ")
}

/// Whether a (short) block of text is boilerplate in any of the supported languages.
pub fn is_boilerplate(text: &str) -> bool {
    let trimmed = text.trim();
    // A bare URL printed as text (share widgets, print versions).
    if (trimmed.starts_with("http://") || trimmed.starts_with("https://")) && !trimmed.contains(' ') {
        return true;
    }
    // A credit line: "Photo © Agency", "(c) 2024 Site".
    if trimmed.chars().count() < 120 && (trimmed.contains('©') || trimmed.contains("(c)")) {
        return true;
    }
    if is_dateline(trimmed) {
        return true;
    }
    let lower = trimmed.to_lowercase();
    // An image credit left outside its figure: "Jane Doe | Bloomberg | Getty Images".
    if trimmed.chars().count() < 100 && CREDITS.iter().any(|c| lower.contains(c)) {
        return true;
    }
    let stripped = lower.trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    if WHOLE.contains(&stripped) {
        return true;
    }
    PREFIXES.iter().any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: bool) {
        assert_eq!(is_boilerplate(text), expected, "{text}");
    }

    #[test]
    fn phrases_per_language() {
        check("Read also: Ukraine and partners sign a deal", true);
        check("Читайте також: Зеленський зустрівся з Макроном", true);
        check("Читайте также: переговоры продолжатся", true);
        check("Citește și: Ce a spus ministrul", true);
        check("Czytaj także: Minister o gwarancjach", true);
        check("Lesen Sie auch: Was Kiew fordert", true);
        check("Lire aussi : Les garanties de sécurité", true);
        check("Share", true);
        check("Поділитися:", true);
        check("Updated 11:21 pm CST, Tuesday, November 19, 2019", true);
        check("First Published on Nov 20, 2019 01:38 pm", true);
        check("17 травня 2024, 10:20", true);
        check("Jewels, installation views, photos © Inexhibit, 2018", true);
        check("https://example.org/news/article/x.php", true);
        check("Natalie Naccache | Bloomberg | Getty Images", true);
        check("Минобороны. Фото: пресс-служба", true);
        check("Ähnliche Beiträge", true);
        check("Das könnte Sie auch interessieren!", true);
        check("Veja Também:", true);
    }

    #[test]
    fn prose_is_not_boilerplate() {
        check("The minister said the guarantees would be binding.", false);
        check("Президент заявив, що гарантії мають бути юридично зобов'язуючими.", false);
        check("Sharing intelligence was part of the deal.", false);
        check("On 17 May 2024 the talks resumed in Geneva after a pause.", false);
        check("Weitere Themen standen nicht auf der Tagesordnung.", false);
    }
}
