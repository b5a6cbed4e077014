#!/usr/bin/env bash
# Decode Debian's Asterisk prompts into 16 kHz WAV folders for `dslsim train --speech-dir` and the evaluations.
#
#   sudo apt-get install ffmpeg asterisk-core-sounds-{es,it,ru,fr}-g722 asterisk-prompt-fr-armelle asterisk-prompt-es-co
#   examples/prepare-speech.sh data/speech          # every split
#   examples/prepare-speech.sh data/speech wb       # training and validation only (the test voices stay encoded)
#
# Wideband (G.722, 16 kHz) voices: es_MX_f_Allison, it_IT_m_Carlo, ru_RU_f_IvrvoiceRU (training) and fr_CA_f_June
# (validation) go to OUT/wb/<voice>/. The test voices, a French (Armelle) and a Colombian Spanish speaker, exist
# only as 8 kHz GSM; they go to OUT/test/{fr,es}/ and are for the final check of a checkpoint, never for tuning.
# The English packages are not used at all. Re-running skips files already decoded.
set -euo pipefail
OUT="${1:?usage: $0 OUT_DIR [all|wb|test]}"
WHICH="${2:-all}"
case "$WHICH" in all|wb|test) ;; *) echo "$0: split '$WHICH'; expected all, wb or test" >&2; exit 2;; esac
S=/usr/share/asterisk/sounds
command -v ffmpeg >/dev/null || { echo "$0: ffmpeg not found (apt-get install ffmpeg)" >&2; exit 2; }
decode() {  # decode FORMAT SRC_DIR DEST_DIR
  local fmt=$1 src=$2 dest=$3
  [ -d "$src" ] || { echo "$0: $src not found (is its package installed?)" >&2; exit 2; }
  mkdir -p "$dest"
  find "$src" -name "*.$fmt" -size +1k | sort | while read -r f; do
    o="$dest/$(echo "${f#"$src"/}" | tr / _ | sed "s/\.$fmt\$/.wav/")"
    if [ ! -s "$o" ]; then  # decode to a temporary name, then rename: an interrupted run leaves no half file
      ffmpeg -nostdin -hide_banner -loglevel error -y -f "$fmt" -i "$f" -ar 16000 -ac 1 "$o.tmp.wav"
      mv "$o.tmp.wav" "$o"
    fi
  done
}
if [ "$WHICH" != test ]; then
  for voice in es_MX_f_Allison it_IT_m_Carlo ru_RU_f_IvrvoiceRU fr_CA_f_June; do decode g722 "$S/$voice" "$OUT/wb/$voice"; done
fi
if [ "$WHICH" != wb ]; then
  for lang in fr es; do decode gsm "$S/$lang" "$OUT/test/$lang"; done
fi
echo "decoded into $OUT: $(find "$OUT" -name '*.wav' | wc -l) files"
