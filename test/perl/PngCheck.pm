# PngCheck: decode a PNG with core Perl only (Compress::Zlib), enough to
# tell a rendered page from a blank one. Handles what browsers write:
# 8-bit truecolour (RGB) or truecolour with alpha (RGBA), grey and
# grey+alpha, not interlaced; every one of the five scanline filters.
package PngCheck;
use strict;
use warnings;
use Compress::Zlib ();
use Exporter 'import';
our @EXPORT_OK = qw(png_decode png_stats);

# png_decode($file): { width, height, bpp (bytes per pixel), rows => [raw
# pixel bytes of each scanline, unfiltered] }; dies on anything else
sub png_decode
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or die "$file: $!";
	my $png = do { local $/; <$fh> };
	close($fh);
	die "$file: not a PNG\n" unless substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n";

	my ($width, $height, $depth, $colour, $interlace, $idat, $pos) = (0, 0, 0, 0, 0, '', 8);
	while ($pos + 8 <= length($png))
	{
		my ($len, $type) = unpack('N a4', substr($png, $pos, 8));
		my $data = substr($png, $pos + 8, $len);
		$pos += 12 + $len;			# length, type, data, CRC
		if ($type eq 'IHDR')
		{
			($width, $height, $depth, $colour, undef, undef, $interlace) = unpack('N N C C C C C', $data);
		}
		elsif ($type eq 'IDAT')
		{
			$idat .= $data;
		}
		last if $type eq 'IEND';
	}
	my %channels = (0 => 1, 2 => 3, 4 => 2, 6 => 4);
	die "$file: unsupported PNG (depth $depth, colour type $colour, interlace $interlace)\n"
	  unless $depth == 8 && $channels{$colour} && !$interlace && $width > 0 && $height > 0;
	my $bpp = $channels{$colour};
	my $raw = Compress::Zlib::uncompress($idat);
	die "$file: IDAT does not inflate\n" unless defined $raw;
	my $stride = $width * $bpp;
	die "$file: IDAT holds " . length($raw) . " bytes, expected " . ($stride + 1) * $height . "\n"
	  unless length($raw) == ($stride + 1) * $height;

	# undo the filters, scanline by scanline (PNG spec, section 9)
	my @rows;
	my @prev = (0) x $stride;
	for my $y (0 .. $height - 1)
	{
		my $filter = ord(substr($raw, $y * ($stride + 1), 1));
		my @cur = unpack('C*', substr($raw, $y * ($stride + 1) + 1, $stride));
		if ($filter == 1)			# Sub
		{
			$cur[$_] = ($cur[$_] + $cur[$_ - $bpp]) & 0xff for $bpp .. $stride - 1;
		}
		elsif ($filter == 2)		# Up
		{
			$cur[$_] = ($cur[$_] + $prev[$_]) & 0xff for 0 .. $stride - 1;
		}
		elsif ($filter == 3)		# Average
		{
			for my $i (0 .. $stride - 1)
			{
				my $left = $i >= $bpp ? $cur[$i - $bpp] : 0;
				$cur[$i] = ($cur[$i] + (($left + $prev[$i]) >> 1)) & 0xff;
			}
		}
		elsif ($filter == 4)		# Paeth
		{
			for my $i (0 .. $stride - 1)
			{
				my ($a, $b, $c) = $i >= $bpp ? ($cur[$i - $bpp], $prev[$i], $prev[$i - $bpp]) : (0, $prev[$i], 0);
				my $p = $a + $b - $c;
				my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $b), abs($p - $c));
				$cur[$i] = ($cur[$i] + ($pa <= $pb && $pa <= $pc ? $a : $pb <= $pc ? $b : $c)) & 0xff;
			}
		}
		elsif ($filter != 0)
		{
			die "$file: bad filter type $filter on scanline $y\n";
		}
		push @rows, pack('C*', @cur);
		@prev = @cur;
	}
	return { width => $width, height => $height, bpp => $bpp, rows => \@rows };
}

# png_stats($file): (share of pixels that differ from the top-left one,
# number of distinct colours, width, height)
sub png_stats
{
	my ($file) = @_;
	my $img = png_decode($file);
	my $bpp = $img->{bpp};
	my $first = substr($img->{rows}[0], 0, $bpp);
	my ($differ, %colours) = (0);
	for my $row (@{ $img->{rows} })
	{
		for my $px (unpack("(a$bpp)*", $row))
		{
			$differ++ if $px ne $first;
			$colours{$px} = 1;
		}
	}
	return ($differ / ($img->{width} * $img->{height}), scalar(keys %colours), $img->{width}, $img->{height});
}

1;
