/*-------------------------------------------------------------------------
 * policy_lex.h
 *	  The tokenizer shared by the schedule and retention parsers, pure C.
 *
 * Owns: cutting policy text into words, numbers, HH:MM times and the
 * punctuation * / - , with their byte offsets, and the parse-error record
 * both parsers fill.  Case-insensitive; reads only the bytes it is given.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_POLICY_LEX_H
#define VAULT_POLICY_LEX_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_ERROR_LEN 200
#define POLICY_WORD_LEN 16

typedef struct PolicyError
{
	char		message[POLICY_ERROR_LEN];
	int			offset;			/* byte offset of the bad token */
} PolicyError;

typedef enum PolicyTokenKind
{
	PT_END,
	PT_WORD,					/* letters, lower-cased into word[] */
	PT_NUMBER,					/* digits, value in number */
	PT_TIME,					/* HH:MM, minutes after midnight in number */
	PT_STAR,
	PT_SLASH,
	PT_DASH,
	PT_COMMA,
	PT_BAD						/* anything else */
} PolicyTokenKind;

typedef struct PolicyToken
{
	PolicyTokenKind kind;
	int			offset;
	int			length;
	long		number;
	char		word[POLICY_WORD_LEN + 1];	/* truncated; see length */
} PolicyToken;

typedef struct PolicyLexer
{
	const char *text;
	size_t		len;
	size_t		pos;
	PolicyToken tok;			/* current token */
} PolicyLexer;

extern void policy_lex_init(PolicyLexer *lx, const char *text, size_t len);
extern void policy_lex_next(PolicyLexer *lx);
extern bool policy_lex_word(PolicyLexer *lx, const char *word);	/* current is that word? */
extern bool policy_fail(PolicyError *err, const PolicyToken *tok, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void policy_token_text(const PolicyToken *tok, const char *text, char *out, size_t outlen);

/* names: 0-based index in the table, or -1 */
extern int	policy_day_name(const char *word);	/* sun..sat, sunday..saturday */
extern int	policy_month_name(const char *word);	/* jan..dec, january..december */
extern const char *const policy_day_abbrev[7];
extern const char *const policy_month_abbrev[12];

#endif							/* VAULT_POLICY_LEX_H */
