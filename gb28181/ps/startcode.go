package ps

// Start code values (ISO/IEC 13818-1 Table 2-18 stream_id assignments and
// §2.5.3.1), the byte after 0x000001.
const (
	idProgramEnd   = 0xB9
	idPack         = 0xBA
	idSystemHeader = 0xBB
	idPSM          = 0xBC // program_stream_map
	idPrivate1     = 0xBD
	idPadding      = 0xBE
	idPrivate2     = 0xBF
	idAudioFirst   = 0xC0 // ISO/IEC 13818-3/-7 audio stream 0..31
	idAudioLast    = 0xDF
	idVideoFirst   = 0xE0 // video stream 0..15
	idVideoLast    = 0xEF
)

func isVideoID(id byte) bool { return id >= idVideoFirst && id <= idVideoLast }
func isAudioID(id byte) bool { return id >= idAudioFirst && id <= idAudioLast }

// isSystemID tells whether 0x000001 followed by id is a system start code
// (pack, system header, or a PES stream_id). NAL unit headers never reach
// 0xB9, because their forbidden_zero_bit is 0, so a scan for these codes
// inside video payload finds only real PS structure.
func isSystemID(id byte) bool { return id >= idProgramEnd }

var packStartCode = []byte{0, 0, 1, idPack}

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }
