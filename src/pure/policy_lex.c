/*-------------------------------------------------------------------------
 * policy_lex.c
 *	  Tokenizer for schedule and retention text, pure C.
 *
 * Owns: tokens and error messages.  Knows no grammar.
 *-------------------------------------------------------------------------
 */
#include "policy_lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const policy_day_abbrev[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
const char *const policy_month_abbrev[12] = {"jan", "feb", "mar", "apr", "may", "jun",
"jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_full[7] = {"sunday", "monday", "tuesday", "wednesday",
"thursday", "friday", "saturday"};
static const char *const month_full[12] = {"january", "february", "march", "april", "may",
"june", "july", "august", "september", "october", "november", "december"};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void
policy_lex_init(PolicyLexer *lx, const char *text, size_t len)
{
	lx->text = text;
	lx->len = len;
	lx->pos = 0;
	policy_lex_next(lx);
}

void
policy_lex_next(PolicyLexer *lx)
{
	PolicyToken *t = &lx->tok;
	size_t		start;

	while (lx->pos < lx->len && is_space(lx->text[lx->pos]))
		lx->pos++;
	start = lx->pos;
	memset(t, 0, sizeof(*t));
	t->offset = (int) start;
	if (start >= lx->len)
	{
		t->kind = PT_END;
		return;
	}
	if (is_alpha(lx->text[start]))
	{
		size_t		n = 0;

		while (lx->pos < lx->len && is_alpha(lx->text[lx->pos]))
		{
			char		c = lx->text[lx->pos];

			if (n < POLICY_WORD_LEN)
				t->word[n++] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
			lx->pos++;
		}
		t->kind = PT_WORD;
	}
	else if (is_digit(lx->text[start]))
	{
		long		v = 0;

		while (lx->pos < lx->len && is_digit(lx->text[lx->pos]))
		{
			if (v < 100000000)
				v = v * 10 + (lx->text[lx->pos] - '0');
			lx->pos++;
		}
		t->kind = PT_NUMBER;
		/* HH:MM: one or two digits, a colon, exactly two digits */
		if (lx->pos - start <= 2 && lx->pos + 2 < lx->len &&
			lx->text[lx->pos] == ':' &&
			is_digit(lx->text[lx->pos + 1]) && is_digit(lx->text[lx->pos + 2]) &&
			(lx->pos + 3 >= lx->len || !is_digit(lx->text[lx->pos + 3])))
		{
			long		m = (lx->text[lx->pos + 1] - '0') * 10 + (lx->text[lx->pos + 2] - '0');

			lx->pos += 3;
			t->kind = PT_TIME;
			t->number = (v > 23 || m > 59) ? -1 : v * 60 + m;
			t->length = (int) (lx->pos - start);
			return;
		}
		t->number = v;
	}
	else
	{
		switch (lx->text[start])
		{
			case '*':
				t->kind = PT_STAR;
				break;
			case '/':
				t->kind = PT_SLASH;
				break;
			case '-':
				t->kind = PT_DASH;
				break;
			case ',':
				t->kind = PT_COMMA;
				break;
			default:
				t->kind = PT_BAD;
				break;
		}
		lx->pos++;
	}
	t->length = (int) (lx->pos - start);
}

bool
policy_lex_word(PolicyLexer *lx, const char *word)
{
	return lx->tok.kind == PT_WORD && lx->tok.length == (int) strlen(word) &&
		strcmp(lx->tok.word, word) == 0;
}

/* Fill err (message, offset of tok) and return false. */
bool
policy_fail(PolicyError *err, const PolicyToken *tok, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->offset = tok->offset;
	return false;
}

/* The token's source text, for messages (at most outlen - 1 bytes). */
void
policy_token_text(const PolicyToken *tok, const char *text, char *out, size_t outlen)
{
	size_t		n = (size_t) tok->length;

	if (tok->kind == PT_END)
	{
		snprintf(out, outlen, "end of input");
		return;
	}
	if (n > outlen - 1)
		n = outlen - 1;
	memcpy(out, text + tok->offset, n);
	out[n] = '\0';
}

static int
lookup(const char *word, const char *const *abbrev, const char *const *full, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(word, abbrev[i]) == 0 || strcmp(word, full[i]) == 0)
			return i;
	return -1;
}

int
policy_day_name(const char *word)
{
	return lookup(word, policy_day_abbrev, day_full, 7);
}

int
policy_month_name(const char *word)
{
	return lookup(word, policy_month_abbrev, month_full, 12);
}
