package main

import "strings"

// options are the settings given before the user spec.
type options struct{}

// option is one "--name" or "--name=value" word. Options exist only before
// the user spec and only in this long form, which can never be a user name,
// so "gosu USER CMD" reads exactly as upstream.
type option struct {
	name  string
	value string // placeholder shown in --help when the option takes a value; "" when it takes none
	help  string
	set   func(o *options, v string) error
}

var optionTable = []option{}

// parseOptions consumes the options at the front of args and returns the
// rest, which starts with the user spec. "--" ends the options.
func parseOptions(args []string) (options, []string, error) {
	var o options
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		word := args[0]
		args = args[1:]
		if word == "--" {
			break
		}
		name, val, hasVal := strings.Cut(word[2:], "=")
		opt := lookupOption(name)
		switch {
		case opt == nil:
			return o, nil, usageError("unknown option '" + word + "'")
		case opt.value != "" && !hasVal:
			return o, nil, usageError("option '--" + name + "' needs a value: --" + name + "=" + opt.value)
		case opt.value == "" && hasVal:
			return o, nil, usageError("option '--" + name + "' takes no value")
		}
		if err := opt.set(&o, val); err != nil {
			return o, nil, usageError("option '--" + name + "': " + err.Error())
		}
	}
	return o, args, nil
}

func lookupOption(name string) *option {
	for i := range optionTable {
		if optionTable[i].name == name {
			return &optionTable[i]
		}
	}
	return nil
}

type usageError string

func (e usageError) Error() string { return string(e) + " (see 'gosu --help')" }
