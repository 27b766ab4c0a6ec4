module gosu-apkvercmp

go 1.26.0

require github.com/knqyf263/go-apk-version v0.0.0-20200609155635-041fdbb8563f
