//! A small ESC/POS encoder: text, bold, double size, alignment, feed, cut and drawer kick.
//!
//! Why hand-written: the edge needs a handful of commands that have been stable across Epson,
//! Star (in ESC/POS mode) and the common Chinese clones for decades; the `escpos` crate's
//! driver layer adds blocking I/O the print queue already does itself.
//!
//! Text is sent in the printer's default code page (PC437); characters outside ASCII are
//! replaced by `?` rather than printed as mojibake.

const ESC: u8 = 0x1b;
const GS: u8 = 0x1d;

/// Width of a line on 80 mm paper in font A. Why 42: 576 dots / 12-dot glyphs = 48, minus the
/// margins most printers keep.
pub const LINE_WIDTH_CHARS: usize = 42;

#[derive(Debug, Default, Clone)]
pub struct EscPos {
    bytes: Vec<u8>,
}

impl EscPos {
    /// Starts a page with `ESC @` (initialise: clears modes left by a previous job).
    pub fn new() -> EscPos {
        EscPos {
            bytes: vec![ESC, b'@'],
        }
    }

    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'E', u8::from(on)]);
        self
    }

    /// Double width and height (`GS ! 0x11`), for order numbers.
    pub fn double_size(&mut self, on: bool) -> &mut Self {
        self.bytes
            .extend_from_slice(&[GS, b'!', if on { 0x11 } else { 0x00 }]);
        self
    }

    pub fn align_left(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'a', 0]);
        self
    }

    pub fn align_center(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'a', 1]);
        self
    }

    /// One line of text, ended with LF.
    pub fn line(&mut self, text: &str) -> &mut Self {
        self.bytes.extend(text.chars().map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        }));
        self.bytes.push(b'\n');
        self
    }

    /// A dashed rule across the paper.
    pub fn rule(&mut self) -> &mut Self {
        self.line(&"-".repeat(LINE_WIDTH_CHARS))
    }

    /// Feeds `lines` blank lines (`ESC d n`).
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'd', lines]);
        self
    }

    /// Partial cut after feeding to the cutter (`GS V 66 0`).
    pub fn cut(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&[GS, b'V', 66, 0]);
        self
    }

    /// Opens the cash drawer on pin 2 (`ESC p 0 25 250`: 50 ms on, 500 ms off).
    pub fn drawer_kick(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'p', 0, 25, 250]);
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_starts_with_initialise_and_ends_with_the_cut() {
        let mut page = EscPos::new();
        page.bold(true).line("Hi").bold(false).cut();
        assert_eq!(
            page.into_bytes(),
            vec![
                ESC, b'@', ESC, b'E', 1, b'H', b'i', b'\n', ESC, b'E', 0, GS, b'V', 66, 0
            ]
        );
    }

    #[test]
    fn characters_outside_ascii_print_as_question_marks() {
        let mut page = EscPos::new();
        page.line("Caf\u{e9}\u{7}");
        assert_eq!(&page.into_bytes()[2..], b"Caf??\n");
    }
}
