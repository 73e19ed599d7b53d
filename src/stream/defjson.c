/*-------------------------------------------------------------------------
 * defjson.c
 *	  Reading captured definitions: small accessors over jsonb.
 *
 * A point's definitions are jsonb objects written by the capture functions
 * of the extension script.  The restore code reads them field by field;
 * these helpers turn a missing key and a JSON null alike into NULL (or
 * false, or an empty array), so that a definition captured by an earlier
 * version, which lacks newer keys, reads as "nothing of that".  Must not
 * know what the keys mean.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

static JsonbValue *
def_value(JsonbContainer *obj, const char *key)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

static char *
scalar_text(JsonbValue *v)
{
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/* The top-level object of a definition. */
JsonbContainer *
def_root(Jsonb *def)
{
	return def ? &def->root : NULL;
}

/* A string, number or boolean member as text; NULL if absent or null. */
char *
def_text(JsonbContainer *obj, const char *key)
{
	return scalar_text(def_value(obj, key));
}

/* A boolean member; false if absent or null. */
bool
def_bool(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = def_value(obj, key);

	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/* An object or array member; NULL if absent, null or a scalar. */
JsonbContainer *
def_get(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = def_value(obj, key);

	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return v->val.binary.data;
}

/* The length of an array (NULL: 0). */
int
def_count(JsonbContainer *array)
{
	if (array == NULL || !JsonContainerIsArray(array))
		return 0;
	return JsonContainerSize(array);
}

/* An object or array element of an array; NULL if it is not one. */
JsonbContainer *
def_item(JsonbContainer *array, int i)
{
	JsonbValue *v;

	if (array == NULL || !JsonContainerIsArray(array))
		return NULL;
	v = getIthJsonbValueFromContainer(array, i);
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return v->val.binary.data;
}

/* A scalar element of an array as text. */
char *
def_item_text(JsonbContainer *array, int i)
{
	if (array == NULL || !JsonContainerIsArray(array))
		return NULL;
	return scalar_text(getIthJsonbValueFromContainer(array, i));
}
